"""Stand-in for ``deepthinker_nb/kernel/launcher.py`` while that file does not exist yet.

Copied into the image as ``deepthinker_nb_launcher.py``; starts ipykernel unchanged.
"""

if __name__ == "__main__":
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
