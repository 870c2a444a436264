"""The recurrent networks of the control (after Botvinick & Plaut 2006 and Bowers et al. 2014).

Item input (letters in slots) plus a recall-cue unit feed one recurrent
hidden layer. Serial recall (`RecallNet`): the output names a letter in every
slot (one softmax per slot) at every step. Free recall (`FreeRecallNet`):
one sigmoid unit per vocabulary word, read at the final (recall) step, where
every word of the list should be on. `cell="rnn"` is a logistic recurrent
layer as in the PDP models the papers used; `cell="lstm"` swaps in LSTM
cells. Options shared by both: the hidden state before each list
(`start_state`, rnn only: LENS resets it to 0.5), weights uniform in
[-R, R] (`init_radius`, None: PyTorch's default) and output-to-hidden
feedback (`feedback`, rnn only). `forward` returns the output and the hidden
layer at every step, which is what the control records.
"""

from __future__ import annotations

import torch
from torch import nn

from seldb.control.options import CELLS
from seldb.errors import InputError


class _Recurrent(nn.Module):
    def __init__(
        self,
        n_inputs: int,
        hidden: int,
        n_outputs: int,
        cell: str = "rnn",
        start_state: float = 0.0,
        init_radius: float | None = None,
        feedback: bool = False,
    ):
        super().__init__()
        if cell not in CELLS:
            raise InputError(f"cell {cell!r}: expected one of {', '.join(CELLS)}")
        if hidden < 1:
            raise InputError(f"hidden {hidden}: must be at least 1")
        if feedback and cell != "rnn":
            raise InputError("--feedback: only with --cell rnn")
        self.cell, self.hidden, self.start_state, self.feedback = cell, hidden, float(start_state), feedback
        if cell == "lstm":
            self.lstm = nn.LSTM(n_inputs, hidden)
        else:
            self.input_to_hidden = nn.Linear(n_inputs, hidden)
            self.hidden_to_hidden = nn.Linear(hidden, hidden, bias=False)
            if feedback:
                self.output_to_hidden = nn.Linear(n_outputs, hidden, bias=False)
        self.hidden_to_output = nn.Linear(hidden, n_outputs)
        if init_radius is not None:
            with torch.no_grad():
                for p in self.parameters():
                    p.uniform_(-init_radius, init_radius)

    def squash(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (steps, batch, n_inputs) -> logits (steps, batch, n_outputs), hidden (steps, batch, hidden)."""
        if self.cell == "lstm":
            hidden, _ = self.lstm(inputs)
            return self.hidden_to_output(hidden), hidden
        state = inputs.new_full((inputs.shape[1], self.hidden), self.start_state)
        drive = self.input_to_hidden(inputs)  # the input's share of every step at once
        states, outputs = [], []
        out = None
        for t in range(inputs.shape[0]):
            net = drive[t] + self.hidden_to_hidden(state)
            if self.feedback:
                if out is not None:
                    net = net + self.output_to_hidden(self.squash(out))
                out = self.hidden_to_output(torch.sigmoid(net))
                outputs.append(out)
            state = torch.sigmoid(net)
            states.append(state)
        hidden = torch.stack(states)
        return (torch.stack(outputs) if self.feedback else self.hidden_to_output(hidden)), hidden


class RecallNet(_Recurrent):
    """Serial recall: a softmax over letters in every slot at every step."""

    def __init__(self, n_inputs: int, hidden: int, n_slots: int, n_letters: int, cell: str = "rnn", **options):
        super().__init__(n_inputs, hidden, n_slots * n_letters, cell, **options)
        self.n_slots, self.n_letters = n_slots, n_letters

    def squash(self, logits: torch.Tensor) -> torch.Tensor:
        shaped = logits.view(*logits.shape[:-1], self.n_slots, self.n_letters)
        return torch.softmax(shaped, dim=-1).reshape(logits.shape)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> logits (steps, batch, slots, letters), hidden (steps, batch, hidden); each list from the start state."""
        logits, hidden = self.run(inputs)
        return logits.view(*logits.shape[:2], self.n_slots, self.n_letters), hidden


class FreeRecallNet(_Recurrent):
    """Free recall: one sigmoid unit per word, every word of the list on at the recall step."""

    def squash(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> logits (steps, batch, words), hidden (steps, batch, hidden)."""
        return self.run(inputs)
