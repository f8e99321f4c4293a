"""Infrastructure: settings, storage, the composition root and entrypoints."""
