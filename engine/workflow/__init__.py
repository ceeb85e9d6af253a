"""The workflow runtime: deployed definitions and their versions, instances and the command
pipeline, the script sandbox, user tasks and inboxes, timers, incidents, and the registry through
which domain areas give the runtime their handlers. It never imports a domain area."""
