// Resolve hook for the root-import test: optional peers resolve as if they were not installed.
const blocked = (process.env.TOLLGATE_BLOCKED_PACKAGES ?? "").split(",").filter(Boolean);

export async function resolve(specifier, context, nextResolve) {
  if (blocked.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
    const error = new Error(`Cannot find package '${specifier}' (blocked by the test)`);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return nextResolve(specifier, context);
}
