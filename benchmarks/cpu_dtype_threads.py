"""Generation speed of SmolLM2-135M on this CPU by torch thread count and dtype, each setting in its own process.

    python benchmarks/cpu_dtype_threads.py        # needs the converted model: run model=smollm2_135m once

HF `generate`, 64 prompts x 64 new tokens, sampling at temperature 0.7. Printed: seconds per setting and the ratio
to float32 with 2 threads (the baseline, run in the same command). Whether bf16 has hardware units is printed too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETTINGS = [(2, "float32"), (1, "float32"), (2, "bfloat16"), (1, "bfloat16")]
CHILD = """
import sys, time, torch
threads, dtype = int(sys.argv[1]), getattr(torch, sys.argv[2])
torch.set_num_threads(threads)
from transformers import AutoModelForCausalLM, AutoTokenizer
from openrs.smollm2 import ensure_smollm2
path = ensure_smollm2()
tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
messages = [[{"role": "user", "content": f"What is {a} + {a + 3}?"}] for a in range(64)]
batch = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True,
                                      padding=True)
torch.manual_seed(0)
start = time.perf_counter()
with torch.no_grad():
    model.generate(**batch, max_new_tokens=64, min_new_tokens=64, do_sample=True, temperature=0.7,
                   pad_token_id=tokenizer.pad_token_id)
print(time.perf_counter() - start)
"""


def main() -> int:
    from openrs.provenance import cpu_has_bf16, cpu_model

    print(f"CPU: {cpu_model()}; bf16 units (AMX or AVX512-BF16): {cpu_has_bf16()}")
    seconds = {}
    for threads, dtype in SETTINGS:
        out = subprocess.run([sys.executable, "-c", CHILD, str(threads), dtype], capture_output=True, text=True,
                             cwd=REPO, check=True)  # fmt: skip
        seconds[(threads, dtype)] = float(out.stdout.strip().splitlines()[-1])
    base = seconds[(2, "float32")]
    print("| threads | dtype | seconds | ÷ float32, 2 threads |\n|---|---|---|---|")
    for (threads, dtype), value in seconds.items():
        print(f"| {threads} | {dtype} | {value:.1f} | {value / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
