"""The public transparency log: tree storage as tiles, batched appends, checkpoints, witnesses."""
