"""What the trainers and agents share, each piece once:

- `config`: trainer settings as dataclasses, and the `textgym train` options generated from them;
- `record`: `TrainedAgent`, what every trainer returns, and the training record it writes;
- `seeding`, `schedules`, `batching`: seeds, the warm-up + cosine learning rate, shuffled batches;
- `logs`: the TensorBoard writer and the training-episode log (`episodes.csv`);
- `sampling`: softmax sampling over candidate scores (DRRN's Q-values, PPO's logits);
- `rl`: how the RL trainers make, scale and vectorise their envs;
- `splits`: the refusal of test-split data for training or selection.

The trainers import these; nothing here imports a particular agent.
"""
