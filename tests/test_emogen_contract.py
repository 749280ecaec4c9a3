"""``emogen`` passes the method contract kit (resolve, bad config, safe artifacts that reload anywhere,
output contract, seeds and latents honoured, determinism, batch independence) on the tiny zoo."""
from emobench.testing.contract import MethodContractTests


class TestEmoGenContract(MethodContractTests):
    method = "emogen"
    options = {"stage1_steps": 2, "stage1_batch": 16, "steps": 2, "batch_size": 4}
    bad_options = [{"mapper": "transformer"}, {"fuse": "amusement+joy"}, {"batch_size": 0},
                   {"attr_temperature": 0}]
