/**
 * aws-local-stepfunctions calls Promise.withResolvers (ES2024, Node 22). Lambda runs Node 22; this machine and some
 * developers' run Node 20, so the local runtime and the tests install the standard behaviour when it is missing.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void };

const promise = Promise as unknown as { withResolvers?: WithResolvers };
promise.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason?: unknown) => void;
  const created = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise: created, resolve, reject };
};

export {};
