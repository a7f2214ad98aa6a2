"""Everything that talks to Docker, through the one runner (runner.py): inspection, the run's
steps (steps.py), stacks, the app, and the agent that runs inside the web container.
"""
