using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>
/// The model versions of the embedded index under one root directory (<see cref="LocalIndexOptions.Path"/>):
/// <c>&lt;root&gt;/&lt;modelId&gt;/</c> holds one <see cref="LocalVectorIndex"/> per model, and <c>&lt;root&gt;/CURRENT</c>
/// names the model whose index the hosts use. The pointer is replaced atomically (temporary file, fsync,
/// rename), so a reader sees the old model or the new one, never a mix. Each version directory has its own lock,
/// so <c>vsearch reindex</c> can build a new version while <c>vsearch serve</c> keeps answering from the current one.
/// A root in the flat layout of earlier releases (index.json and records.log directly in the root) is moved
/// into its version directory the first time the pointer is read.
/// </summary>
public sealed partial class LocalIndexCatalog
{
    public const string CurrentFile = "CURRENT";
    private const string MetaFile = "index.json";
    private const string LogFile = "records.log";
    private const string LockFile = "LOCK";

    private readonly LocalIndexOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<LocalIndexCatalog> _logger;

    public LocalIndexCatalog(IOptions<LocalIndexOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<LocalIndexCatalog>();
        Root = Path.GetFullPath(_options.Path);
    }

    /// <summary>Absolute root directory.</summary>
    public string Root { get; }

    /// <summary>The directory of one model's index.</summary>
    public string VersionDirectory(string modelId) => Path.Combine(Root, CheckModelId(modelId));

    /// <summary>
    /// The model the hosts use, or null for a root that holds no index yet. Migrates the flat layout first.
    /// </summary>
    public string? ReadCurrent()
    {
        MigrateFlatLayout();
        var path = Path.Combine(Root, CurrentFile);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8).Trim();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (!ModelIdPattern().IsMatch(text))
            throw new InvalidDataException($"{path} does not name a model ('{text}'). It holds one model id, e.g. resnet18-1a2b3c4d5e6f-512; fix or delete it.");
        return text;
    }

    /// <summary>Points the hosts at <paramref name="modelId"/>'s index (atomic). The version must exist.</summary>
    public void SwitchTo(string modelId)
    {
        var directory = VersionDirectory(modelId);
        if (!File.Exists(Path.Combine(directory, MetaFile)))
            throw new InvalidOperationException($"There is no index for model '{modelId}' at {directory}; build it first (vsearch reindex).");
        WriteAtomically(Path.Combine(Root, CurrentFile), Encoding.UTF8.GetBytes(modelId + "\n"));
        LogSwitched(_logger, Root, modelId);
    }

    /// <summary>Model ids that have an index under the root, in ordinal order.</summary>
    public IReadOnlyList<string> ListVersions()
    {
        MigrateFlatLayout();
        if (!Directory.Exists(Root)) return [];
        return Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => ModelIdPattern().IsMatch(name) && File.Exists(Path.Combine(Root, name, MetaFile)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>True if a version directory exists for the model (complete or not).</summary>
    public bool VersionExists(string modelId) => Directory.Exists(VersionDirectory(modelId));

    /// <summary>
    /// Deletes one model's index. Refuses the current one; fails with "in use" while a process has it open.
    /// </summary>
    public void DeleteVersion(string modelId)
    {
        var directory = VersionDirectory(modelId);
        if (ReadCurrent() == modelId)
            throw new InvalidOperationException($"The index for model '{modelId}' is the current one; switch to another model before deleting it.");
        if (!Directory.Exists(directory)) return;

        // Holding the version's lock proves that no process has it open; a reindex or a host would fail to open it meanwhile.
        var lockPath = Path.Combine(directory, LockFile);
        FileStream held;
        try
        {
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException ex)
        {
            throw new IOException($"The index at {directory} is in use by another process; stop it before deleting this version.", ex);
        }

        using (held)
        {
            foreach (var file in Directory.EnumerateFiles(directory))
            {
                if (!string.Equals(Path.GetFileName(file), LockFile, StringComparison.Ordinal)) File.Delete(file);
            }
        }

        Directory.Delete(directory, recursive: true);
        LogDeleted(_logger, directory);
    }

    /// <summary>A closed index over one model's directory; call InitializeAsync with that model's schema.</summary>
    public LocalVectorIndex OpenVersion(string modelId) => new(
        Options.Create(new LocalIndexOptions
        {
            Path = VersionDirectory(modelId),
            FlushToDisk = _options.FlushToDisk,
            CompactionRatio = _options.CompactionRatio,
            AnnThreshold = _options.AnnThreshold,
            AnnConnectivity = _options.AnnConnectivity,
            AnnExpansionAdd = _options.AnnExpansionAdd,
            AnnExpansionSearch = _options.AnnExpansionSearch,
            AnnOverfetch = _options.AnnOverfetch,
            AnnQuantization = _options.AnnQuantization,
            AnnBuildThreads = _options.AnnBuildThreads,
            AnnBuildCheck = _options.AnnBuildCheck,
            FilteredSearch = _options.FilteredSearch,
        }),
        _loggerFactory.CreateLogger<LocalVectorIndex>());

    /// <summary>Describes where a model's index lives, for messages.</summary>
    public string Describe(string modelId) => VersionDirectory(modelId);

    /// <summary>
    /// Moves a flat-layout index (index.json and records.log in the root) into its version directory and
    /// points CURRENT at it. Each step can be repeated, so a crash part-way is finished by the next open.
    /// </summary>
    private void MigrateFlatLayout()
    {
        var legacyMeta = Path.Combine(Root, MetaFile);
        if (!File.Exists(legacyMeta)) return;
        if (File.Exists(Path.Combine(Root, CurrentFile)))
        {
            // The last step of an interrupted migration: the pointer was written, the old metadata was not removed yet.
            File.Delete(legacyMeta);
            return;
        }

        FileStream rootLock;
        try
        {
            rootLock = new FileStream(Path.Combine(Root, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The index at {Root} is in use by another process (an earlier release of vsearch serve?). Stop it, then start again: the index moves to its model's directory.", ex);
        }

        using (rootLock)
        {
            if (!File.Exists(legacyMeta)) return;
            var meta = JsonDocument.Parse(File.ReadAllBytes(legacyMeta)).RootElement;
            var modelId = meta.TryGetProperty("modelId", out var m) ? m.GetString() : null;
            if (modelId is null || !ModelIdPattern().IsMatch(modelId))
                throw new InvalidDataException($"{legacyMeta} does not name a model; it cannot be migrated.");

            var directory = VersionDirectory(modelId);
            Directory.CreateDirectory(directory);
            var legacyLog = Path.Combine(Root, LogFile);
            if (File.Exists(legacyLog) && !File.Exists(Path.Combine(directory, LogFile))) File.Move(legacyLog, Path.Combine(directory, LogFile));
            WriteAtomically(Path.Combine(directory, MetaFile), File.ReadAllBytes(legacyMeta));
            WriteAtomically(Path.Combine(Root, CurrentFile), Encoding.UTF8.GetBytes(modelId + "\n"));
            File.Delete(legacyMeta);
            foreach (var leftover in new[] { LogFile + ".compact", MetaFile + ".tmp" })
            {
                var path = Path.Combine(Root, leftover);
                if (File.Exists(path)) File.Delete(path);
            }

            LogMigrated(_logger, Root, directory);
        }

        File.Delete(Path.Combine(Root, LockFile));
    }

    private static string CheckModelId(string modelId)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        if (!ModelIdPattern().IsMatch(modelId))
            throw new ArgumentException($"'{modelId}' is not a model id (lowercase letters, digits, '-', '_' and '.', at most 128 characters).", nameof(modelId));
        return modelId;
    }

    private static void WriteAtomically(string path, byte[] content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        DurableFiles.WriteAtomically(path, content);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_.-]{0,127}$")]
    private static partial Regex ModelIdPattern();

    [LoggerMessage(110, LogLevel.Warning, "Index {Root}: switched to model {ModelId}; hosts that open the index from now on use it")]
    private static partial void LogSwitched(ILogger logger, string root, string modelId);

    [LoggerMessage(111, LogLevel.Information, "Index {Root}: moved the flat layout of an earlier release to {Directory}")]
    private static partial void LogMigrated(ILogger logger, string root, string directory);

    [LoggerMessage(112, LogLevel.Information, "Deleted the index version at {Directory}")]
    private static partial void LogDeleted(ILogger logger, string directory);
}
