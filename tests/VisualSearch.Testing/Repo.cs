namespace VisualSearch.Testing;

/// <summary>
/// The repository root (node_modules, the browser script, docs/, ...) and the CC0/public-domain photos of
/// samples/photos that a test project copies to its output's fixtures/ folder.
/// </summary>
public static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    private static readonly Lazy<string> LazyPhotos = new(() =>
        Directory.Exists(Path.Combine(Fixtures, "photos")) ? Path.Combine(Fixtures, "photos") : Fixtures);

    public static string Root => LazyRoot.Value;

    /// <summary>The test output's fixtures/ folder.</summary>
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "fixtures");

    /// <summary>
    /// The photos of samples/photos: fixtures/photos in a project that copies them there (next to
    /// fixtures/queries, as BrowserTests does), otherwise fixtures/ itself.
    /// </summary>
    public static string Photos => LazyPhotos.Value;

    /// <summary>Edited copies of some photos (samples/queries, copied to fixtures/queries), as a user would search with them.</summary>
    public static string Query(string name) => Path.Combine(Fixtures, "queries", name);

    public static string Photo(string name) => Path.Combine(Photos, name);

    public static byte[] PhotoBytes(string name) => File.ReadAllBytes(Photo(name));

    /// <summary>The first line of the MSAL.js bundle the page ships: the banner of the version package.json pins.</summary>
    public static string MsalBanner()
    {
        using var package = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "package.json")));
        return "/*! @azure/msal-browser v" + package.RootElement.GetProperty("dependencies").GetProperty("@azure/msal-browser").GetString() + " ";
    }

    /// <summary>The indexable photos (not LICENSE.md), by name.</summary>
    public static IReadOnlyList<string> PhotoNames() =>
        Directory.EnumerateFiles(Photos)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => n.EndsWith(".png", StringComparison.Ordinal) || n.EndsWith(".jpg", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

    // The first directory above the test binaries with the solution, or Directory.Build.props beside global.json.
    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VisualSearch.sln"))
                || File.Exists(Path.Combine(dir.FullName, "VisualSearch.slnx"))
                || (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && File.Exists(Path.Combine(dir.FullName, "global.json"))))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No repository root (VisualSearch.sln) above {AppContext.BaseDirectory}.");
    }
}
