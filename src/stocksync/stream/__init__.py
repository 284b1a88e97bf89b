"""The event stream on NATS JetStream: every sequenced event published once, in log order.

- `subjects`: subject layout and the stream's configuration (pure);
- `message`: the published payload (the log event as GET /v1/events shows it) and headers;
- `setup`: connecting, creating/updating the stream (at start and by `stocksync migrate`);
- `store`: the publish cursor and the figures lag is computed from, in the database;
- `lock`: one publisher per stream across processes;
- `publisher`, `running`: the publisher and the background thread it runs in;
- `lag`: publish and consumer lag as metrics and alert conditions;
- `channel_feed`, `view`: channel workers reading the stream, and what their channel shows;
- `access`: one-tenant consumers and the NATS permissions of their users.
"""
