"""Qt widgets, dialogs and table models. Widgets call app.services; they never write SQL."""
