"""Templates and static files of the public pages; the wheel ships them as tracetag.public_pages."""
