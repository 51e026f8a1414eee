from generator.cli import run

run(prog_name=None)
