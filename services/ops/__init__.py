"""What ops read about the processes, straight from Temporal: visibility search, one
process's live description, its decoded and masked history with a readable timeline,
and the incident scan. The HTTP side is ``api.routes.ops``."""
