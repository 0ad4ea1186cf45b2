// Command mqlog drives an mqlog data directory from the shell: produce and consume messages, create,
// list and delete topics, inspect partitions, segments and single segment files, dump segment files
// (Kafka's too), verify and repair a data directory, and run the benchmark tool. docs/CLI.md holds the
// decisions behind it.
//
// Data goes to stdout, errors ("Error: ...") and notes to stderr. Commands that only read (inspect, topic
// list, consume without --group, dump, verify) open the directory read-only: they take no lock, create
// nothing and work while another process writes. Commands that write take the directory's lock.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultDir is the data directory when neither --dir nor MQLOG_DIR is given.
const defaultDir = "./mqlog-data"

// envDir names the environment variable that sets the default of --dir.
const envDir = "MQLOG_DIR"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal ends the command cleanly; a second one kills at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process's exit code. ctx is cancelled on SIGINT or
// SIGTERM; commands that wait (consume --follow, produce) then finish cleanly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == root && !errors.As(err, new(*usageError)) {
		// Only cobra's search for the subcommand fails this way (the root runs nothing else): an unknown
		// command, reported before the flags meant for it are parsed.
		err = unknownCommand(root, args)
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	code := exitCode(err)
	var usage *usageError
	if errors.As(err, &usage) && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// app holds what every command shares: the standard streams and the global flags.
type app struct {
	ctx    context.Context // done on SIGINT or SIGTERM
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	dir      string // --dir
	output   string // -o: outputTable or outputJSON
	logLevel string // --log-level
	logger   *slog.Logger
}

const rootLong = `mqlog works on a data directory of topics, partitions and segment files.

The data directory is --dir, else $MQLOG_DIR, else ./mqlog-data. Commands that only
read it (inspect, topic list and describe, consume without --group or --queue, dump,
verify) take no lock and never create it; commands that write (produce, topic create, alter
and delete, groups, consume --group or --queue, repair, compact, stats without --url) take
its LOCK, so only one writing process at a time; when the process holding it serves the
directory (mqlog serve), produce, topic, groups and consume --group go through its Kafka
listener instead (or through --broker HOST:PORT). --log-level shows the
engine's structured log messages (recovery, retention, compaction) on stderr.

Data goes to stdout; notes and errors go to stderr, errors as "Error: ...". -o json
prints JSON documents with a "version" field, or one JSON object per line for streams
(produce acknowledgements, consumed and dumped records).

Exit codes:
  0  success
  1  error, or corruption found (verify, dump, inspect, inspect segment, and consume
     after printing what it could read before the damage)
  2  usage error (unknown command or flag, bad flag value); verify also exits 2 when
     it could not check (a missing directory, an I/O error)`

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "mqlog",
		Short: "Durable append-only log storage for message queues",
		Long:  rootLong,
		// No Args check: cobra then reports an unknown command (with suggestions) before parsing the flags
		// meant for it, rather than "unknown shorthand flag" for `mqlog consme -t x`.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			return a.setUpLogging()
		},
	}
	dir := os.Getenv(envDir)
	if dir == "" {
		dir = defaultDir
	}
	flags := root.PersistentFlags()
	flags.StringVar(&a.dir, "dir", dir, "data directory ($"+envDir+" sets the default)")
	flags.StringVarP(&a.output, "output", "o", outputTable, "output format: table or json")
	flags.StringVar(&a.logLevel, "log-level", "warn", "structured log messages on stderr from this `level` up: debug, info, warn, error")
	root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputTable, outputJSON}, cobra.ShellCompDirectiveNoFileComp))
	root.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions(logLevels, cobra.ShellCompDirectiveNoFileComp))
	root.MarkPersistentFlagDirname("dir")

	root.AddCommand(
		a.newProduceCommand(),
		a.newConsumeCommand(),
		a.newInspectCommand(),
		a.newTopicCommand(),
		a.newCompactCommand(),
		a.newGroupsCommand(),
		a.newVerifyCommand(),
		a.newRepairCommand(),
		a.newDumpCommand(),
		a.newServeCommand(),
		a.newClusterCommand(),
		a.newStatsCommand(),
		newBenchCommand(),
	)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	markUsageErrors(root)
	return root
}

// markUsageErrors makes the argument checks of cmd and its subcommands report usage errors (exit 2).
func markUsageErrors(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &usageError{err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markUsageErrors(sub)
	}
}

// groupCommand returns a command that only holds subcommands: alone it prints its help; with an argument
// that is not a subcommand it is a usage error naming the closest subcommands.
func groupCommand(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		// Flags meant for a mistyped subcommand are not this command's: ignored, so that the error names
		// the subcommand (`mqlog topic creat x --partitions 3`).
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownSubcommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
}

// unknownCommand is the usage error of a command line whose first word is not a command of root.
func unknownCommand(root *cobra.Command, args []string) error {
	takesValue := map[string]bool{}
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.NoOptDefVal == "" {
			takesValue["--"+f.Name] = true
			if f.Shorthand != "" {
				takesValue["-"+f.Shorthand] = true
			}
		}
	})
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case takesValue[arg]:
			i++ // its value
		case strings.HasPrefix(arg, "-"):
		default:
			return unknownSubcommand(root, arg)
		}
	}
	return usagef("unknown command line for %q", root.CommandPath())
}

// unknownSubcommand is the usage error of name, which is not a subcommand of cmd: it names the closest
// ones, as "unknown command "consme" for "mqlog"; did you mean "consume"?".
func unknownSubcommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // (cobra's default, which it sets on the root only)
	}
	if suggestions := cmd.SuggestionsFor(name); len(suggestions) > 0 {
		quoted := make([]string, len(suggestions))
		for i, s := range suggestions {
			quoted[i] = strconv.Quote(s)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
	}
	return &usageError{err: errors.New(msg)}
}

// requireFlags returns a usage error naming the first of names that was not set on the command line.
func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		if !cmd.Flags().Changed(name) {
			return usagef("required flag --%s not set", name)
		}
	}
	return nil
}

// isCancelled reports whether err is the end of a context, as when SIGINT cancels the command's.
func isCancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
