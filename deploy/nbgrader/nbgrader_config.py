"""nbgrader's configuration for the course (nbgrader 0.9). Run every nbgrader command in this folder.

The assignments are the course's notebooks: `python -m course_utils.grading source` (run from the repository's
root) writes them into source/<name>/. docs/instructor_guide.md, section "Graded assignments with nbgrader",
walks through release, collect, autograde and feedback.
"""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

# The course's id in nbgrader's exchange and gradebook; change it per class (one id per class and term).
c.CourseDirectory.course_id = "cnn-explanations"

# A cleared answer is "# YOUR CODE HERE" under `my_x = ...`, so its checker says "Not yet" and Run All goes on
# (nbgrader's default stub raises NotImplementedError and would stop every cell below it).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding runs each notebook top to bottom (6 to 17 s for a course notebook on two cores, README,
# section "Performance"); a cell that runs longer than 10 minutes is stopped and scores nothing.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True

# A shared server (JupyterHub): the exchange is one folder every user can reach. Create it once as root:
#     mkdir -p /srv/nbgrader/exchange && chmod ugo+rw /srv/nbgrader/exchange
c.Exchange.root = "/srv/nbgrader/exchange"

# An LMS (Moodle, Canvas ...): `nbgrader zip_collect <assignment>` reads the download in
# downloaded/<assignment>/archive/ and needs each file's student id. nbgrader matches this regular expression
# against each extracted file's whole path; it fits names such as "jdoe_04_class_activation_maps.ipynb" or
# "mei.li_04_class_activation_maps.ipynb" (the student's id without "_", an underscore, the notebook's name).
# Adapt it to the names your LMS gives its downloads.
c.FileNameCollectorPlugin.named_regexp = r".*[/\\](?P<student_id>[A-Za-z0-9.\-]+)_(?P<file_id>[0-9A]\w*\.ipynb)$"
