import torch

# Tiny networks run fastest on one thread, and it is fairest to a shared 2-core machine (and to the Voilà server
# that browser tests start beside pytest).
torch.set_num_threads(1)
