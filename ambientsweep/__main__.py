from ambientsweep.cli import app

app()
