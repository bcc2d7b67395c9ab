# bash completion for copapy-cc and coparun (installed by `cmake --install`
# into PREFIX/share/bash-completion/completions/, where bash-completion loads
# it on first use; or `source` it from ~/.bashrc).
#
# Subcommands, options and targets are asked from the program itself
# (`copapy-cc --help`, `copapy-cc SUBCOMMAND --help`, `copapy-cc targets`), so
# this file never lists them a second time. Needs no bash-completion helpers.

# The words of a CLI11 help section ("Subcommands:", "Options:") of `$@ --help`.
_copapy_cc_help_words() {
    local section=$1
    shift
    "$@" --help 2>/dev/null | awk -v s="$section" '
        /^[A-Za-z].*:$/ { on = ($0 == s); next }
        on && /^  [^ ]/ { print $1 }' | tr ',' '\n' | sed -n 's/^\(-[-A-Za-z0-9]*\).*/\1/p; /^[a-z]/p'
}

_copapy_cc() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    local cc=${COMP_WORDS[0]}
    command -v "$cc" >/dev/null 2>&1 || cc=copapy-cc
    local sub="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) sub=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $prev in
        -t|--target)
            # `copapy-cc targets`: one line per target, "NAME description (aliases: A, B)".
            local table
            table=$("$cc" targets 2>/dev/null)
            COMPREPLY=($(compgen -W "$(awk '{print $1}' <<<"$table") \
                                     $(sed -n 's/.*(aliases: \([^)]*\)).*/\1/p' <<<"$table" | tr ',' ' ')" -- "$cur"))
            return ;;
        --emit)
            COMPREPLY=($(compgen -W "image listing dot c-header manifest c" -- "$cur"))
            return ;;
        --diagnostics)
            COMPREPLY=($(compgen -W "text json" -- "$cur"))
            return ;;
        -O)
            COMPREPLY=($(compgen -W "0 1 2" -- "$cur"))
            return ;;
        --stencils)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        -o|--output|--depfile)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --code-addr|--data-addr|--c-name|--bind)
            return ;;
    esac
    if [ -z "$sub" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_copapy_cc_help_words Options: "$cc")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_copapy_cc_help_words Subcommands: "$cc")" -- "$cur"))
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_copapy_cc_help_words Options: "$cc" "$sub")" -- "$cur"))
    elif [ "$sub" = build ]; then
        COMPREPLY=($(compgen -f -X '!*.@(json|cbor)' -- "$cur") $(compgen -d -- "$cur"))
    fi
}

_coparun() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    local run=${COMP_WORDS[0]}
    command -v "$run" >/dev/null 2>&1 || run=coparun
    case $prev in
        --set|--repeat|--poke|--peek) return ;;
    esac
    if [[ $cur == -* ]]; then
        # `coparun --help` lists its options as "  --name ..." lines.
        COMPREPLY=($(compgen -W "$("$run" --help 2>/dev/null | sed -n 's/^  \(--[a-z-]*\).*/\1/p')" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.cpimg' -- "$cur") $(compgen -d -- "$cur"))
    fi
}

shopt -s extglob 2>/dev/null
complete -o filenames -F _copapy_cc copapy-cc
complete -o filenames -F _coparun coparun coparun-aarch64 coparun-armhf
