"""The lab console: a web page served by the lab that draws what the trace knows (see app)."""
