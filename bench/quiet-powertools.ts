/**
 * Imported first by benches that invoke handlers in-process: Powertools reads these when the shared logger and metrics
 * are made, and per-invocation EMF lines and logs would otherwise be the bench's own output (Lambda ships them apart).
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
