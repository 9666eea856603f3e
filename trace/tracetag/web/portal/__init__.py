"""The producer portal, to come: server-rendered pages where producers register products and
batches and print labels, admins manage producers and accounts, and inspectors look records up.

It will stand beside web/public/ and over the same services as the JSON API (api/), importing
neither; its shared needs (sessions, settings, error answers) come from the web layer (web/).
"""
