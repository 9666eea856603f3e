"""Labels from plain data: QR codes, PDF sheets, ZPL, CSV and ZIP; no database access."""
