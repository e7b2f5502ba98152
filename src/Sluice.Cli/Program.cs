return await Sluice.Cli.SluiceCli.RunAsync(args, Console.Out, Console.Error);
