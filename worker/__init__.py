"""The wxface worker: confirms every result with WeChat and publishes one outcome per credential."""
