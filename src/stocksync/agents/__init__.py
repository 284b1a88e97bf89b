"""Stock for AI agents: the MCP server, freshness of every answer, schema.org offers."""
