"""The HTTP routes by area, as Chalice blueprints that ``app.py`` registers (README, "Layout")."""
