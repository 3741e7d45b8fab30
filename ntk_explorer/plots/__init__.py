"""Plotting (plotly, no widgets): ``panels`` holds the figure templates the interactive panels update in place,
``figures`` the static figures of the lesson notebooks.  Never imported by ``import ntk_explorer``."""
