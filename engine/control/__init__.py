"""The engine's local control channel: a Unix domain socket (never TCP) that an attached console
(`opsconsole attach`) and the CLI verbs (`opsconsole rollout ...`) use to read the engine's
Snapshot and send it Commands.

- paths.py: where the socket lives ($XDG_RUNTIME_DIR/opsconsole/<db-hash>.sock) and its private dir;
- protocol.py: JSON lines: one request, one answer, per line;
- server.py: the engine component that serves it, checking the peer's uid (SO_PEERCRED);
- client.py: the blocking client used by the attach source's thread and the CLI;
- discover.py: which engines run for this user (every socket that answers hello), for the CLI
  with no config.
"""
