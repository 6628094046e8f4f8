// Defaults the command line names in its help, importable without loading the operations.
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
