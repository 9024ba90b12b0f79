using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Hosting;
using VisualSearch.Index.Local;

namespace VisualSearch.Cli;

/// <summary>Composition for the one-shot commands (index, search): the engine over the configured index (VectorIndex:Provider).</summary>
public static class EngineHost
{
    public static IHost Build(CliArgs args, IDictionary<string, string?>? overrides = null)
    {
        var builder = CreateBuilder();
        builder.Configuration.AddInMemoryCollection(Overrides(args, overrides));
        builder.Logging.SetMinimumLevel(args.Has("verbose") ? LogLevel.Information : LogLevel.Error);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        return builder.Build();
    }

    /// <summary>
    /// The default host builder (appsettings.json, environment variables, console logging) for a command that runs once:
    /// configuration is read at start and not watched. With the default reloadOnChange the JSON files' provider watches
    /// the content root (the current directory) recursively: a worktree with node_modules, bin and obj is thousands of
    /// inotify watches and directory reads at every start (5,415 watches and 10,914 getdents64 calls for one
    /// <c>vsearch index</c> from the repository's root, by strace), for changes a one-shot command never reloads.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder()
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["hostBuilder:reloadConfigOnChange"] = "false" });
        return Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = false, Args = [], Configuration = configuration });
    }

    /// <summary>The AppContext switch that makes reflection call methods through the runtime instead of emitted stubs.</summary>
    public const string InterpretedInvokeSwitch = "Switch.System.Reflection.ForceInterpretedInvoke";

    /// <summary>The switch that makes Microsoft.Extensions.DependencyInjection resolve by reflection instead of compiled call sites.</summary>
    public const string DependencyInjectionDynamicEngineSwitch = "Microsoft.Extensions.DependencyInjection.DisableDynamicEngine";

    /// <summary>
    /// For a process that starts, does one job and exits (<c>vsearch index</c>, <c>reindex</c>, <c>search</c>, <c>duplicates</c>;
    /// not <c>serve</c>): no code generated at run time for what runs a handful of times. Reflection (configuration binding,
    /// the options' DataAnnotations validation) otherwise emits and JIT-compiles an invoke stub for each property getter and
    /// setter called twice (137 of the 895 methods a 1-photo <c>vsearch index</c> compiled, `DOTNET_JitDisasmSummary`), and the
    /// container compiles call sites for services resolved twice. Both paths give the same results; about 30 ms of CPU less
    /// per process on a Zen 3 core (docs/performance.md, ninth session). Call before the host is built.
    /// </summary>
    public static void UseOneShotRuntime()
    {
        AppContext.SetSwitch(InterpretedInvokeSwitch, true);
        AppContext.SetSwitch(DependencyInjectionDynamicEngineSwitch, true);
    }

    /// <summary>Settings from command-line options, which win over appsettings and environment variables.</summary>
    public static Dictionary<string, string?> Overrides(CliArgs args, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>();
        if (args.Get("index") is { } index) settings[$"{LocalIndexOptions.SectionName}:Path"] = index;
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }
}
