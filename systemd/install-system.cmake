# Run by `cmake --install` (systemd/CMakeLists.txt includes it in an install(CODE) step), when
# CMAKE_INSTALL_PREFIX is the prefix given at install time, not the one configured: the unit must
# name the joulesd that is really installed (/usr/sbin/joulesd with --prefix /usr), and the
# daemon must read the configuration installed beside it.
#
# In: JOULES_SRC (systemd/ of the source tree), JOULES_BIN (a scratch directory),
# JOULES_SBINDIR and JOULES_UNITDIR (relative to the prefix, or absolute).

foreach(var JOULES_SBINDIR JOULES_UNITDIR)
  if(IS_ABSOLUTE "${${var}}")
    set(${var}_FULL "${${var}}")
  else()
    set(${var}_FULL "${CMAKE_INSTALL_PREFIX}/${${var}}")
  endif()
endforeach()

# GNUInstallDirs' rule: /etc for the /usr prefix, PREFIX/etc otherwise.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconfdir /etc)
else()
  set(sysconfdir "${CMAKE_INSTALL_PREFIX}/etc")
endif()

# joulesd reads /etc/joules/joulesd.conf by default; any other place is named on the command
# line (a named file must exist, and it is installed below).
set(JOULES_EXEC_START "${JOULES_SBINDIR_FULL}/joulesd")
if(NOT sysconfdir STREQUAL "/etc")
  string(APPEND JOULES_EXEC_START " --config ${sysconfdir}/joules/joulesd.conf")
endif()
configure_file("${JOULES_SRC}/joulesd.service.in" "${JOULES_BIN}/joulesd.service" @ONLY)
# joules-exporter reads the default history (/var/lib/joules/joules.db) and listens on its
# default address; a drop-in changes either.
set(JOULES_EXPORTER_EXEC_START "${JOULES_SBINDIR_FULL}/joules-exporter")
configure_file("${JOULES_SRC}/joules-exporter.service.in" "${JOULES_BIN}/joules-exporter.service"
               @ONLY)
file(INSTALL "${JOULES_BIN}/joulesd.service" "${JOULES_SRC}/joulesd.socket"
     "${JOULES_BIN}/joules-exporter.service" DESTINATION "${JOULES_UNITDIR_FULL}")

# The example, every key commented out, so the installed settings are the defaults. An existing
# file is the administrator's and is never overwritten. The Debian package ships the file this
# writes into its fresh DESTDIR as the conffile /etc/joules/joulesd.conf (debian/joules.install):
# the same content, and dpkg keeps the administrator's changes as this does.
set(conf "$ENV{DESTDIR}${sysconfdir}/joules/joulesd.conf")
if(EXISTS "${conf}")
  message(STATUS "Keeping: ${conf}")
else()
  file(INSTALL "${JOULES_SRC}/joulesd.conf.example" DESTINATION "${sysconfdir}/joules"
       RENAME joulesd.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
