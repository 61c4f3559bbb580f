"""REINFORCE on CartPole: a policy network interacting with a real environment.

The seed's "interfacing with environments": the environment (gymnasium's
CartPole-v1) is plain Python, and the policy is an ember network called inside
the loop. Each episode's log-probabilities are kept on the autograd tape; at its
end the policy gradient ``-sum(log pi(a_t|s_t) * G_t)`` (normalized returns) is
backpropagated and Adam takes a step. Needs gymnasium (``pip install gymnasium``).
Run: ``python examples/reinforce_cartpole.py [--episodes N]``.
"""

import argparse

import gymnasium as gym
import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim


class Policy(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.affine1 = nn.Linear(4, hidden)
        self.affine2 = nn.Linear(hidden, 2)

    def forward(self, x):
        return F.softmax(self.affine2(F.relu(self.affine1(x))), dim=-1)


def run(episodes: int, seed: int = 0, gamma: float = 0.99, log_every: int = 20) -> float:
    ember.manual_seed(seed)
    env = gym.make("CartPole-v1")
    policy = Policy()
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    running = 10.0
    for episode in range(episodes):
        state, _ = env.reset(seed=seed + episode)
        log_probs, rewards = [], []
        for _ in range(500):
            probs = policy(ember.from_numpy(np.asarray(state, dtype=np.float32)))
            action = ember.multinomial(probs.detach(), 1).item()
            log_probs.append(probs[action].log())
            state, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            if terminated or truncated:
                break
        returns, g = [], 0.0
        for r in reversed(rewards):
            g = r + gamma * g
            returns.insert(0, g)
        returns = ember.tensor(returns)
        returns = (
            (returns - returns.mean()) / (returns.std() + 1e-8) if len(rewards) > 1 else returns * 0
        )
        loss = -(ember.stack(log_probs) * returns).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running = 0.05 * len(rewards) + 0.95 * running
        if episode % log_every == 0 or episode == episodes - 1:
            print(f"episode {episode:4d}  length {len(rewards):3d}  running average {running:6.1f}")
    env.close()
    return running


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    final = run(args.episodes)
    print(f"final running average episode length: {final:.1f} (random policy: about 22)")
