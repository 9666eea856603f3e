"""The public pages a QR code opens, and the GS1 resolver: what consumers and scanners see."""
