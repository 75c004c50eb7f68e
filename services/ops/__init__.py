"""What ops read about the processes, straight from Temporal, and what they do to them:
visibility search, one process's live description, its decoded and masked history with a
readable timeline, the incident scan, and the audited cancel and terminate. The HTTP side
is ``api.routes.ops``; the console's process pages (``api.web.ops``) call the same."""
