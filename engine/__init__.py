"""govshare engine: domain model and workflow runtime. Never imports Flask."""
