using System.Text.Json;
using VisualSearch.Cli;

namespace VisualSearch.FunctionalTests;

/// <summary><c>vsearch duplicates</c> over a folder indexed with <c>vsearch index</c> (real model, real index on disk).</summary>
public sealed class DuplicatesCommandTests
{
    [Fact]
    public async Task Lists_the_exact_and_the_edited_copy_of_a_photo_as_json_and_as_a_table()
    {
        using var folder = new TempDirectory("vs-dup-images-");
        using var index = new TempDirectory("vs-dup-index-");
        var astronaut = Repo.PhotoBytes("astronaut.png");
        await File.WriteAllBytesAsync(Path.Combine(folder.Path, "astronaut.png"), astronaut);
        await File.WriteAllBytesAsync(Path.Combine(folder.Path, "astronaut-copy.png"), astronaut);
        await File.WriteAllBytesAsync(Path.Combine(folder.Path, "astronaut-chat.jpg"), TestImages.EditedCopy(astronaut));
        foreach (var other in new[] { "chelsea.png", "coffee.png", "retina.jpg" })
            File.Copy(Repo.Photo(other), Path.Combine(folder.Path, other));
        Assert.Equal(0, await IndexCommand.RunAsync(CliArgs.Parse([folder.Path, "--index", index.Path], "verbose"), TextWriter.Null, TextWriter.Null, CancellationToken.None));

        using var json = new StringWriter();
        Assert.Equal(0, await DuplicatesCommand.RunAsync(CliArgs.Parse(["--index", index.Path, "--json"], "json", "verbose"), json, TextWriter.Null, CancellationToken.None));
        var body = JsonDocument.Parse(json.ToString()).RootElement;
        Assert.Equal(1, body.GetProperty("total").GetInt32());
        var group = body.GetProperty("groups")[0];
        Assert.Equal(["astronaut-chat.jpg", "astronaut-copy.png", "astronaut.png"], group.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(["exact", "near"], group.GetProperty("pairs").EnumerateArray().Select(p => p.GetProperty("kind").GetString()).Order());

        using var table = new StringWriter();
        Assert.Equal(0, await DuplicatesCommand.RunAsync(CliArgs.Parse(["--index", index.Path, "--min-score", "0.999"], "json", "verbose"), table, TextWriter.Null, CancellationToken.None));
        var lines = table.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("1 group(s) at min score 0.999", lines[0], StringComparison.Ordinal);
        Assert.Equal("[1] exact, 2 items", lines[1]);
        Assert.Contains("1.0000  exact  astronaut-copy.png  ~  astronaut.png", lines[2], StringComparison.Ordinal);

        await Assert.ThrowsAsync<UsageException>(() => DuplicatesCommand.RunAsync(CliArgs.Parse(["--index", index.Path, "--min-score", "1.5"], "json"), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        await Assert.ThrowsAsync<UsageException>(() => DuplicatesCommand.RunAsync(CliArgs.Parse(["--index", index.Path, "--k", "3"], "json"), TextWriter.Null, TextWriter.Null, CancellationToken.None));
    }
}
