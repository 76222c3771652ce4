"""Activities: df.Blueprint modules registered by function_app.py."""
