/* `completion bash|zsh`: a shell script completing stack's commands, their flags and
 * the project's service names. The script asks stack itself at completion time (the
 * commands from `stack --help`, a command's flags from `stack CMD --help`, services
 * from `stack config --services` with the global options typed so far), so it never
 * goes stale. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Commands whose operands are not services. */
#define NO_SERVICES "version|login|logout|ls|image|volume|load|save|tag|rmi|completion"
#define GLOBAL_WITH_ARG \
	"-f|--file|-p|--project-name|--project-directory|--env-file|--profile|--root"
#define COMMANDS_OF_HELP "awk '/^Commands:/{f=1;next} f && /^  [a-z]/{print $1}'"
#define FLAGS_OF_HELP "grep -o -- '--[a-z][a-z-]*' | sort -u"

static const char bash_script[] =
	"# bash completion for stack: source <(stack completion bash)\n"
	"_stack() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd='' i w\n"
	"\tlocal -a globals=()\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tcase $w in\n"
	"\t\t" GLOBAL_WITH_ARG ")\n"
	"\t\t\t[[ -z $cmd ]] && globals+=(\"$w\" \"${COMP_WORDS[i+1]}\")\n"
	"\t\t\t((i++)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) [[ -z $cmd ]] && cmd=$w ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tcase $prev in\n"
	"\t-f|--file|--env-file|--project-directory|--root)\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\treturn ;;\n"
	"\tesac\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\tif [[ $cur == -* ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$(stack --help 2>/dev/null | " FLAGS_OF_HELP
	")\" -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$(stack --help 2>/dev/null | " COMMANDS_OF_HELP
	")\" -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(stack \"$cmd\" --help 2>/dev/null | " FLAGS_OF_HELP
	")\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd in\n"
	"\tcompletion) COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")) ;;\n"
	"\t" NO_SERVICES ") COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\tcp)\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\") $(compgen -W \"$(stack \"${globals[@]}\" config --services 2>/dev/null | sed 's/$/:/')\" -- \"$cur\"))\n"
	"\t\tcompopt -o nospace 2>/dev/null || true ;;\n"
	"\t*) COMPREPLY=($(compgen -W \"$(stack \"${globals[@]}\" config --services 2>/dev/null)\" -- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _stack stack\n";

static const char zsh_script[] =
	"#compdef stack\n"
	"# zsh completion for stack: source <(stack completion zsh), after compinit\n"
	"_stack() {\n"
	"\tlocal -a globals cands\n"
	"\tlocal i cmd=''\n"
	"\tfor ((i = 2; i < CURRENT; i++)); do\n"
	"\t\tcase ${words[i]} in\n"
	"\t\t" GLOBAL_WITH_ARG ")\n"
	"\t\t\t[[ -z $cmd ]] && globals+=(${words[i]} ${words[i+1]})\n"
	"\t\t\t((i++)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) [[ -z $cmd ]] && cmd=${words[i]} ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tcase ${words[CURRENT-1]} in\n"
	"\t-f|--file|--env-file|--project-directory|--root) _files; return ;;\n"
	"\tesac\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\tif [[ $PREFIX == -* ]]; then\n"
	"\t\t\tcands=(${(f)\"$(stack --help 2>/dev/null | " FLAGS_OF_HELP ")\"})\n"
	"\t\telse\n"
	"\t\t\tcands=(${(f)\"$(stack --help 2>/dev/null | " COMMANDS_OF_HELP ")\"})\n"
	"\t\tfi\n"
	"\t\tcompadd -a cands\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ $PREFIX == -* ]]; then\n"
	"\t\tcands=(${(f)\"$(stack $cmd --help 2>/dev/null | " FLAGS_OF_HELP ")\"})\n"
	"\t\tcompadd -a cands\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd in\n"
	"\tcompletion) compadd bash zsh ;;\n"
	"\t" NO_SERVICES ") _files ;;\n"
	"\t*)\n"
	"\t\tcands=(${(f)\"$(stack $globals config --services 2>/dev/null)\"})\n"
	"\t\tif [[ $cmd == cp ]]; then\n"
	"\t\t\tcompadd -S ':' -a cands\n"
	"\t\t\t_files\n"
	"\t\telse\n"
	"\t\t\tcompadd -a cands\n"
	"\t\tfi ;;\n"
	"\tesac\n"
	"}\n"
	"compdef _stack stack\n";

int cli_completion(struct cli_globals *g, int argc, char **argv)
{
	(void)g;
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs("Usage: stack completion bash|zsh\n\n"
		      "Print a shell completion script: source <(stack completion bash)\n",
		      stdout);
		return CLI_OK;
	}
	if (argc != 2)
		return cli_usage_error("completion",
				       "\"completion\" requires exactly 1 argument: bash or zsh");
	if (!strcmp(argv[1], "bash"))
		fputs(bash_script, stdout);
	else if (!strcmp(argv[1], "zsh"))
		fputs(zsh_script, stdout);
	else
		return cli_usage_error("completion", "unsupported shell \"%s\" (bash or zsh)",
				       argv[1]);
	return CLI_OK;
}
