// Placeholder entry point; replaced by the real handler.
export const handler = async (): Promise<void> => {};
