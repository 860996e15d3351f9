# bash completion for joules(1) and joulesd(8).
#
# Commands and options are read from the programs' own --help at completion time, so the
# completion never falls behind the programs; only the values of a few options are known here.
# Installed as .../bash-completion/completions/joules and .../completions/joulesd.

# _joules_help_options CMD...: the long options a --help text mentions, one a line.
_joules_help_options() {
  "$@" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

# _joules_value OPTION: completes the value of OPTION; returns 1 when it takes no value.
_joules_value() {
  local cur=$1 opt=$2
  case $opt in
    --db | --config)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      ;;
    --sysfs-root | --procfs-root | --cgroup-root)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -d -- "$cur"))
      ;;
    --energy-source) COMPREPLY=($(compgen -W 'auto perf powercap model' -- "$cur")) ;;
    --log-level) COMPREPLY=($(compgen -W 'error warning notice info debug' -- "$cur")) ;;
    --events) COMPREPLY=($(compgen -W 'none cycles,instructions cycles perf::TASK-CLOCK' -- "$cur")) ;;
    --idle-power) COMPREPLY=($(compgen -W 'learn' -- "$cur")) ;;
    --since | --until) COMPREPLY=($(compgen -W '10m 1h 24h 7d 30d' -- "$cur")) ;;
    --interval | --duration | --refresh | --window | --warmup | --cooldown) COMPREPLY=($(compgen -W '200ms 1s 5s 1m' -- "$cur")) ;;
    --format) COMPREPLY=($(compgen -W 'csv json' -- "$cur")) ;;
    --by) COMPREPLY=($(compgen -W 'hour day month' -- "$cur")) ;;
    --from | --to)
      # calibrate's --from is a CSV file; export's are times ($cmd is _joules's local)
      if [ "$opt" = --from ] && [ "${cmd:-}" = calibrate ]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
      else
        COMPREPLY=($(compgen -W '24h 7d 30d now' -- "$cur"))
      fi
      ;;
    --points) COMPREPLY=($(compgen -W '2 4 6 8 11 21' -- "$cur")) ;;
    --cpus) COMPREPLY=() ;;
    --country) COMPREPLY=($(compgen -W 'WORLD EU US CA GB IE FR DE NL BE ES PT IT CH AT SE NO FI DK PL CZ IN CN JP KR SG AU NZ BR ZA MX' -- "$cur")) ;;
    --svg)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      ;;
    --unit | --a | --b)
      COMPREPLY=($(compgen -W "$(systemctl list-units --all --type=service,scope --no-legend \
        --plain 2>/dev/null | awk '{ print $1 }')" -- "$cur"))
      ;;
    --requests-from) COMPREPLY=($(compgen -W 'wrk ab hey httperf ingest none' -- "$cur")) ;;
    --rows | --repeat | --a-load | --b-load) COMPREPLY=() ;;
    *) return 1 ;;
  esac
  return 0
}

_joules() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local prog=${COMP_WORDS[0]} cmd="" i
  COMPREPLY=()

  # The first word that is neither an option nor an option's value is the command.
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --db) ((i++)) ;;
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done

  _joules_value "$cur" "$prev" && return 0

  if [ -z "$cmd" ]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(_joules_help_options "$prog")" -- "$cur"))
    else
      local commands
      commands=$("$prog" --help 2>/dev/null |
        awk '/^Commands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && NF { print $1 }')
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return 0
  fi
  COMPREPLY=($(compgen -W "$(_joules_help_options "$prog" "$cmd")" -- "$cur"))
}

_joulesd() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  _joules_value "$cur" "$prev" && return 0
  COMPREPLY=($(compgen -W "$(_joules_help_options "${COMP_WORDS[0]}")" -- "$cur"))
}

complete -F _joules joules
complete -F _joulesd joulesd
