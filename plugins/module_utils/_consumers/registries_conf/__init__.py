# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""containers-registries.conf(5) version 2 drop-ins: build, emit, parse back, validate.

A drop-in in ``/etc/containers/registries.conf.d/*.conf`` is read by every containers/image
consumer on the host (CRI-O, podman, skopeo, buildah). A broken one breaks every pull, and
unknown keys are ignored silently, so nothing is written that has not passed:

1. structural checks of the data (:func:`validate`): prefix formats (``host[:port][/path]``,
   optionally ``:tag``/``@digest``, or a ``*.example.com`` wildcard), locations
   (``host[:port][/path]``, never a scheme), no duplicate prefixes, no conflicting ``insecure``
   or ``blocked`` for one location, ``pull-from-mirror`` values and its exclusion with
   ``mirror-by-digest-only`` (the rules containers/image enforces, plus stricter ones of ours);
2. the TOML text produced by :func:`dumps` (code, not a template) parsed back by the best
   available parser - ``tomllib`` (Python >= 3.11), ``tomli`` if importable, else the small
   parser of ``_common/toml`` (``loads_builtin``, the TOML subset these files use, refusing what
   it does not understand) - and the parsed document validated again and compared with the data.

Drop-ins are applied in lexical order of their file names and a later ``[[registry]]`` with the
same prefix replaces an earlier one entirely (mirrors are not merged): :func:`find_conflicts`
(:mod:`.conflicts`) reports which other drop-in of the directory claims one of our prefixes, and which file wins.

No Ansible imports.

The package: :mod:`.names` (prefix and location checks), :mod:`.model` (constants, :func:`build`),
:mod:`.validate`, :mod:`.render`, :mod:`.conflicts`, :mod:`.pairs` (from the mirror map) and
:mod:`.dropin` (the module's file transaction). Import a name from the module that defines it:
this package imports nothing, so a module that needs one part (``image_mirror``'s
``source_mirrors_file`` reader needs the keys of :mod:`.model` and :mod:`.names`) does not carry the
others (and the TOML emitter, the mirror map views) into its AnsiballZ payload.
"""
