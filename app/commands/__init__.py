"""One module per `parsdesk` command: `register(parser)` adds its arguments and sets `func`.

Modules import Qt (and other heavy libraries) only inside the function that runs the command.
"""
