"""minertrace.sim: a simulated subnet (population, task runs, a LocalChain) for the demo."""

from minertrace.sim.population import Population, make_population
from minertrace.sim.subnet import DEFAULT_VALIDATOR_HOTKEY, SimParams, SimulatedSubnet, StepReport
from minertrace.sim.tasks import TaskRun, run_rng, run_scores, runs_between

__all__ = [
    "DEFAULT_VALIDATOR_HOTKEY",
    "Population",
    "SimParams",
    "SimulatedSubnet",
    "StepReport",
    "TaskRun",
    "make_population",
    "run_rng",
    "run_scores",
    "runs_between",
]
