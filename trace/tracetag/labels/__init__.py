"""QR matrices and label output."""
