"""The service layer: what a person can do, as plain async functions that the JSON routes
(api/routes) and the console's pages (api/web) both call. Services talk to Temporal and
the database and raise ``api``-free problems; they never import ``api``."""
