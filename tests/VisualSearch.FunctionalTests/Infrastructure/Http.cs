using System.Net;
using System.Text.Json;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>Assertions on responses of the API.</summary>
internal static class Http
{
    /// <summary>Asserts the status and returns the JSON body (application/json).</summary>
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(expected == response.StatusCode, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an application/problem+json error with this status, and returns it.</summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(expected == response.StatusCode, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }

    /// <summary>Checks the search response shape (<c>space</c> only from a host with a copy space) and returns the result ids, best first.</summary>
    public static IReadOnlyList<string> ResultIds(JsonElement body)
    {
        var names = body.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(names.Contains("space") ? ["model", "results", "space"] : ["model", "results"], names);
        Assert.StartsWith("resnet18-", body.GetProperty("model").GetString(), StringComparison.Ordinal);
        var results = body.GetProperty("results").EnumerateArray().ToList();
        var previous = float.PositiveInfinity;
        foreach (var r in results)
        {
            Assert.Equal(["id", "score", "metadata"], r.EnumerateObject().Select(p => p.Name).ToArray());
            var score = r.GetProperty("score").GetSingle();
            Assert.InRange(score, -1.0001f, 1.0001f);
            Assert.True(score <= previous, $"Scores are not descending: {score} after {previous}.");
            previous = score;
            Assert.Equal(JsonValueKind.Object, r.GetProperty("metadata").ValueKind);
        }

        return results.Select(r => r.GetProperty("id").GetString()!).ToList();
    }

    /// <summary>Polls until <paramref name="condition"/> holds, or fails with <paramref name="what"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            if (await condition().ConfigureAwait(false)) return;
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out after {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:F0} s waiting for: {what}");
            await Task.Delay(200).ConfigureAwait(false);
        }
    }
}
