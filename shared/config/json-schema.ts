import * as z from 'zod';
import { GatehouseConfigSchema } from './schema.ts';

/** The JSON Schema of gatehouse.config.yaml, generated from the zod schema so the two never drift. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(GatehouseConfigSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://gatehouse.dev/schemas/gatehouse.config.json',
    title: 'Gatehouse configuration',
  };
}
