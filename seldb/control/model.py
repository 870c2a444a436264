"""The recurrent network of the superposition control (after Botvinick & Plaut 2006).

Item input (letters in slots) plus a recall-cue unit feed one recurrent
hidden layer; the output names a letter in every slot (one softmax per
slot). `cell="rnn"` is a logistic recurrent layer as in the PDP models the
papers used; `cell="lstm"` swaps in LSTM cells (the paper's future work).
`forward` returns the hidden layer at every step, which is what the control
records.
"""

from __future__ import annotations

import torch
from torch import nn

from seldb.control.options import CELLS
from seldb.errors import InputError


class RecallNet(nn.Module):
    def __init__(self, n_inputs: int, hidden: int, n_slots: int, n_letters: int, cell: str = "rnn"):
        super().__init__()
        if cell not in CELLS:
            raise InputError(f"cell {cell!r}: expected one of {', '.join(CELLS)}")
        if hidden < 1:
            raise InputError(f"hidden {hidden}: must be at least 1")
        self.cell, self.hidden, self.n_slots, self.n_letters = cell, hidden, n_slots, n_letters
        if cell == "lstm":
            self.lstm = nn.LSTM(n_inputs, hidden)
        else:
            self.input_to_hidden = nn.Linear(n_inputs, hidden)
            self.hidden_to_hidden = nn.Linear(hidden, hidden, bias=False)
        self.hidden_to_output = nn.Linear(hidden, n_slots * n_letters)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (steps, batch, n_inputs) -> logits (steps, batch, slots, letters), hidden (steps, batch, hidden).

        Every trial starts from a zero state: nothing is carried between lists.
        """
        if self.cell == "lstm":
            hidden, _ = self.lstm(inputs)
        else:
            hidden = self._logistic_rnn(inputs)
        logits = self.hidden_to_output(hidden)
        return logits.view(*logits.shape[:2], self.n_slots, self.n_letters), hidden

    def _logistic_rnn(self, inputs: torch.Tensor) -> torch.Tensor:
        state = inputs.new_zeros(inputs.shape[1], self.hidden)
        drive = self.input_to_hidden(inputs)  # the input's share of every step at once
        states = []
        for t in range(inputs.shape[0]):
            state = torch.sigmoid(drive[t] + self.hidden_to_hidden(state))
            states.append(state)
        return torch.stack(states)
