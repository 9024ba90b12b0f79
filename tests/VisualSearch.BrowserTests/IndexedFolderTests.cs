using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Cli;

namespace VisualSearch.BrowserTests;

/// <summary>The README's path: <c>vsearch index FOLDER</c>, then <c>vsearch serve</c> shows that folder's images with no setting.</summary>
public sealed class IndexedFolderTests
{
    [Fact]
    public async Task Serve_over_an_index_built_by_vsearch_index_shows_the_indexed_folders_images()
    {
        using var folder = new TempDirectory("vs-bt-folder-");
        using var index = new TempDirectory("vs-bt-index-");
        Directory.CreateDirectory(Path.Combine(folder.Path, "cats"));
        File.Copy(Repo.Photo("chelsea.png"), Path.Combine(folder.Path, "cats", "chelsea.png"));
        File.Copy(Repo.Photo("coffee.png"), Path.Combine(folder.Path, "coffee.png"));

        var exitCode = await IndexCommand.RunAsync(CliArgs.Parse([folder.Path, "--index", index.Path], "verbose"), TextWriter.Null, TextWriter.Null, CancellationToken.None);
        Assert.Equal(0, exitCode);
        Assert.Equal(Path.GetFullPath(folder.Path), File.ReadAllText(Path.Combine(index.Path, LocalImages.RootFile)).Trim());

        await using var app = ServeCommand.Build(
            CliArgs.Parse(["--index", index.Path, "--urls", "http://127.0.0.1:0", "--no-watch"], "no-watch"),
            new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });
        await app.StartAsync();
        try
        {
            var address = Assert.Single(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []);
            using var client = new HttpClient { BaseAddress = new Uri(address) };
            Assert.Equal(await File.ReadAllBytesAsync(Repo.Photo("chelsea.png")), await client.GetByteArrayAsync("/api/images/cats/chelsea.png"));
            using var thumbnail = await client.GetAsync("/api/thumbnails/coffee.png?size=64");
            Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
            Assert.True(File.Exists(Directory.GetFiles(Path.Combine(index.Path, "thumbnails"), "*-64.jpg", SearchOption.AllDirectories).Single()));
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
