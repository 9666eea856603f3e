"""The web layer. Its rooms: public/ (the pages a QR code opens, and the resolver) and portal/
(producer, admin and inspector pages); the JSON API is api/. The modules here are what they
share: typed dependencies, error answers, headers, rate limits and health checks.
"""
